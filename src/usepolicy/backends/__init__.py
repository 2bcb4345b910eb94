"""Backends: other policy engines that evaluate usepolicy policies (Open Policy Agent)."""
