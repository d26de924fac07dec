"""The git service: one bare repository per project, snapshots as commits and tags."""
