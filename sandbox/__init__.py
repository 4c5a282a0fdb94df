"""Local emulators of amoCRM, Radist, Gemini and Telegram, served by one Starlette app.

Start one with `sandbox.server.SandboxServer` (tests, in-process) or `python -m sandbox serve`
(what `synkro sandbox serve`, `synkro demo` and `synkro dev` run as a separate process).
Not part of the product: nothing in `synkro/` imports this package
(tests/test_sandbox_boundary.py), and its web stack comes with the `sandbox` extra.
"""
