"""Russian language understanding: text primitives (normalisation, numbers, dates, morphology,
phonetic keys) and the intent engine built on them."""
