"""DynFrame span-density retrieval: the request grammar and the one retrieval loop."""
