"""Model plug-ins: the registry, the model contract, backbones and one module per model family."""

# Modules imported by the registry on first use; each registers its models.
BUILTIN_MODULES = (
    "models.ae",
    "models.pixel_fade",
)
