"""Errors a stage reports to the user as one line, without a traceback."""


class BrainreconError(Exception):
    """A problem with the user's input: params, files, recordings."""


class ParamsError(BrainreconError, ValueError):
    """``params.yaml`` has a key, value or type the stage does not accept."""


class DataError(BrainreconError, ValueError):
    """A recording, table or array is missing, malformed or inconsistent."""
