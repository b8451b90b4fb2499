"""The stats core: plain records, rules and arithmetic, with no framework and no database.
The questions and their arguments (`questions`, `params`), the windows and time zones
(`windows`), the figures (`figures`, `stats`, `rounding`), what is read and what is answered
(`reads`, `results`), the import records (`records`) and the errors. It imports nothing of
the service but itself: every other layer may import it."""
