"""Personal Stats Service: mentor statistics over REST and GraphQL from one stats core."""
