"""sheetfollow: follow-up discipline for sales pipelines that live in a spreadsheet."""

__version__ = "0.1.0"
