"""riskops.web"""
