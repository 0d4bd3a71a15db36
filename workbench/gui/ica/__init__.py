"""The ICA tab: review the components of the latest ``ica`` run and choose which to remove."""

from .tab import ICATab

__all__ = ["ICATab"]
