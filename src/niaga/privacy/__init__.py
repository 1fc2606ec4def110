"""The privacy kernel: keys and encryption, the personal-data registry, audit log, erasure."""
