"""The portal's words, one module per area: `MESSAGES = {key: (russian, english)}`."""
