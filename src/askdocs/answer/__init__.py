"""Answering a question from retrieved passages.

The question path, one module per part: `question` (focus, context, kind, constraints),
`candidates` (every sentence of the top articles), `entities` (answer phrases), `features`
(signals, each a small pure function), `combiner` (the fitted weights), `extractive` and
`generative` (the two answerers), `follow_ups` (conversation turns) and `pipeline` (what
`Assistant.ask` runs).
"""
