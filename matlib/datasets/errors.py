"""What can go wrong with a benchmark split: not found, not a known version, a row that is not a crystal."""


class DataNotFoundError(FileNotFoundError):
    pass


class ChecksumError(ValueError):
    pass


class MalformedRowError(ValueError):
    pass
