"""Dialog scoring: transcripts, PII masking, rubric, Gemini calls and the dialog_analyses table."""
