print("counter-service: not built yet")
