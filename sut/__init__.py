"""The reference 1177 system under test: backend, identity provider, web e-services and push fan-out."""

__version__ = "0.1.0"
