"""Local emulators of amoCRM, Radist, Gemini and Telegram, served by one Starlette app.

Start one with `sandbox.server.SandboxServer` (tests) or `synkro sandbox serve` (CLI).
"""
