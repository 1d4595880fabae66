"""The growth benchmark's parts: generated register data written with COPY, and the measurements."""
