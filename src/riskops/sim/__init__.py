"""riskops.sim"""
