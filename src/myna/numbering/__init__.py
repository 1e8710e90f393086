"""Individual Numbers, resident-record codes and local-government codes (SPEC §2)."""
