"""The built-in model: a ``signet_thin`` trained on synthetic signatures only.

Its weights (``model.pth``, float16), their preprocessing settings
(``preprocessing.json``) and the matching writer-independent classifier
(``wi-classifier.zip``) ship with the package; ``sigver.pretrained.recipe`` made them
(docs/pretrained.md). ``sigver enroll`` / ``sigver verify``, the Python API and
``sigver train --init default`` use them when no model or classifier is given.
"""
