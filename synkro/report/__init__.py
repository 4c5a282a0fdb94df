"""The daily report: built from marts and analyses, rendered for Telegram/HTML, with a chart."""
