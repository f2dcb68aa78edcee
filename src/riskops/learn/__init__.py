"""Learning: features in two engines, models trained on labels and case outcomes, anomaly scores."""
