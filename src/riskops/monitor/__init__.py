"""riskops.monitor"""
