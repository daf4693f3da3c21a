"""Paper sources (Hugging Face Daily Papers, arXiv, bulk files, the bundled sample).

Every source turns what it reads into `storage.records.PaperRecord`s; storage.papers.upsert_papers is the one way
they reach the database.
"""
