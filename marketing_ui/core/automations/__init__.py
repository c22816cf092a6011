"""Automations: pre-built flows (welcome, birthday, win-back, thank-you, second chance).

- config.py: the owner's settings of each automation, validated; its message is a template
  campaign (Campaign.automation_id set, edited with the campaign editor)
- engine.py: which (automation, customer, occurrence) are due, found in SQL and recorded once
  (automation_occurrence's UNIQUE), then sent as a batch campaign through the send pipeline
- reports.py: what each automation earned, per week

A batch is a Campaign with `automation_id` set and id != the automation's
`template_campaign_id`; the campaign list shows neither templates nor batches.
"""
