"""gkextract: Chinese government information-disclosure annual reports → SQLite."""

__version__ = "0.1.0"
