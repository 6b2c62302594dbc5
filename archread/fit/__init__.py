"""archread fit: which architecture a folder of safetensors weights is, from the headers alone.

Pure Python at fit time (no torch, no transformers): every candidate's parameter tree is precomputed once, as
shapes written in its configuration's fields (`signature`), from meta-device builds of its reduced model.
"""
