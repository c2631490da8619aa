"""The notebook of lessons: storage and search, proposals, reflection, ratings, teaching."""
