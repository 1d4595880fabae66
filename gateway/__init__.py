"""The real-estate registration + banking gateway (不动产登记+金融 一体办)."""
