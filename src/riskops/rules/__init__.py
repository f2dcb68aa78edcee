"""riskops.rules"""
