"""The Gradient tab: run the gradient-artifact correction and inspect it."""

from .tab import GradientTab

__all__ = ["GradientTab"]
