// The store conformance suite, the deterministic test source and test helpers are added here as they land.
export {};
