"""Model plug-ins: the registry, the model contract, backbones and one module per model family.

Every module in this package is imported on first use of the registry (see
`models.registry.load_builtin`), so a new model family is one new module here: no list to edit.
"""
