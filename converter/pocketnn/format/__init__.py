"""The .pnn file format (docs/FORMAT.md): op codes, writer and reader."""
