# All 50 business-data fields CXone allows: 35 text, 10 number, 5 boolean.
# Engage field names are the same as CXone's.

field "text" "CustomerID" {
  value = "bd.CustomerID"
}

field "text" "AccountNumber" {
  value = "bd.AccountNumber"
}

field "text" "CaseNumber" {
  value = "bd.CaseNumber"
}

field "text" "Product" {
  value = "bd.Product"
}

field "text" "ProductLine" {
  value = "bd.ProductLine"
}

field "text" "Region" {
  value = "bd.Region"
}

field "text" "Country" {
  value = "bd.Country"
}

field "text" "Language" {
  value = "bd.Language"
}

field "text" "Campaign" {
  value = "bd.Campaign"
}

field "text" "Queue" {
  value = "bd.Queue"
}

field "text" "Disposition" {
  value = "bd.Disposition"
}

field "text" "WrapCode" {
  value = "bd.WrapCode"
}

field "text" "Channel" {
  value = "bd.Channel"
}

field "text" "Segment" {
  value = "bd.Segment"
}

field "text" "ContractType" {
  value = "bd.ContractType"
}

field "text" "PolicyNumber" {
  value = "bd.PolicyNumber"
}

field "text" "OrderNumber" {
  value = "bd.OrderNumber"
}

field "text" "InvoiceNumber" {
  value = "bd.InvoiceNumber"
}

field "text" "TicketID" {
  value = "bd.TicketID"
}

field "text" "CRMContactID" {
  value = "bd.CRMContactID"
}

field "text" "Brand" {
  value = "bd.Brand"
}

field "text" "StoreID" {
  value = "bd.StoreID"
}

field "text" "PostalCode" {
  value = "bd.PostalCode"
}

field "text" "Reason" {
  value = "bd.Reason"
}

field "text" "SubReason" {
  value = "bd.SubReason"
}

field "text" "Outcome" {
  value = "bd.Outcome"
}

field "text" "TransferTarget" {
  value = "bd.TransferTarget"
}

field "text" "SurveyID" {
  value = "bd.SurveyID"
}

field "text" "PromoCode" {
  value = "bd.PromoCode"
}

field "text" "PaymentMethod" {
  value = "bd.PaymentMethod"
}

field "text" "DeviceModel" {
  value = "bd.DeviceModel"
}

field "text" "FirmwareVersion" {
  value = "bd.FirmwareVersion"
}

field "text" "SLAClass" {
  value = "bd.SLAClass"
}

field "text" "TeamName" {
  value = "bd.TeamName"
}

field "text" "SupervisorNote" {
  value = "bd.SupervisorNote"
}

field "number" "OrderTotal" {
  value    = "float(bd.OrderTotal)"
  on_error = "exclude"
}

field "number" "Balance" {
  value = "float(bd.Balance)"
}

field "number" "CSAT" {
  value = "float(bd.CSAT)"
}

field "number" "NPS" {
  value = "float(bd.NPS)"
}

field "number" "HoldSeconds" {
  value = "float(bd.HoldSeconds)"
}

field "number" "TransferCount" {
  value = "float(bd.TransferCount)"
}

field "number" "Attempts" {
  value = "float(bd.Attempts)"
}

field "number" "RiskScore" {
  value = "float(bd.RiskScore)"
}

field "number" "LoyaltyPoints" {
  value = "float(bd.LoyaltyPoints)"
}

field "number" "WaitSeconds" {
  value = "float(bd.WaitSeconds)"
}

field "boolean" "VIP" {
  value = "bd.VIP == 'Y'"
}

field "boolean" "Complaint" {
  value = "bd.Complaint == 'Y'"
}

field "boolean" "Escalated" {
  value = "bd.Escalated == 'Y'"
}

field "boolean" "FirstContactResolution" {
  value = "bd.FirstContactResolution == 'Y'"
}

field "boolean" "ConsentToRecord" {
  value = "bd.ConsentToRecord == 'Y'"
}
