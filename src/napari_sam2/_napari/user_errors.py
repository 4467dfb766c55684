"""What the widget reports as a message rather than a crash: what a user can fix (bad input, a
missing or undownloadable model file: OSError, RuntimeError; a path it may not replace:
FileExistsError, an OSError)."""
USER_ERRORS = (ValueError, IndexError, OSError, RuntimeError)
