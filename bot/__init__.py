"""paperbot's logic: configuration, the digest, the sources, Block Kit builders and the composition root."""
