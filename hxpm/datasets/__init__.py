"""Training datasets: JSONL records in five formats, read streaming (docs/datasets.md).

No torch here: the ``dataset`` commands and the trainer's data preparation share this code.
"""
