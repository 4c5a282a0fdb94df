"""`python -m sandbox serve ...`: how the product (`synkro sandbox serve`, demo, dev) runs the sandbox.

The emulators need the web stack of the `sandbox` extra (starlette, uvicorn, python-multipart);
without it this says so in one line instead of a traceback.
"""

from __future__ import annotations

import sys

# The extra's distributions as the modules they install.
WEB_MODULES = ("starlette", "uvicorn", "multipart", "python_multipart")


def main() -> None:
    try:
        from sandbox.cli import app
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in WEB_MODULES:
            raise
        print(
            f"error: the sandbox needs {exc.name}, which comes with the `sandbox` extra "
            "(make install, or pip install 'synkro[sandbox]')",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    app(prog_name="python -m sandbox")


if __name__ == "__main__":
    main()
