"""The GraphQL adapter: Strawberry types and resolvers over the stats core."""
