"""Generated protobuf and gRPC code for Skiff. NEVER edit: run proto/generate.sh."""
