"""Running models: the llama.cpp engine, its parameters, generation modes, GGUF metadata, offload."""
