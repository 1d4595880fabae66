"""The tax bureau: its rules (契税, 增值税, 个人所得税) and its adapter."""
