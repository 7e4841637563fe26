//! Routing and queueing simulation over many dynos, and capacity planning (pure, seeded).
