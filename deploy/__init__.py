"""Fleet rollout of the Xunjian agent over SSH (stands alone: imports no other project package)."""
