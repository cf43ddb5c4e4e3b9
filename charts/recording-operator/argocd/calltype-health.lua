-- Argo CD health of a recording.dev CallType (resource.customizations.health.recording.dev_CallType):
-- Healthy when the operator reached its storage (condition Ready), Degraded with the reason when not.
local hs = { status = "Progressing", message = "Waiting for the operator to check the storage" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "The operator has not yet checked the latest spec (generation " .. generation .. ")"
  return hs
end
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    if c.status == "True" then
      hs.status = "Healthy"
      hs.message = c.message or "storage reachable"
    elseif c.status == "False" then
      hs.status = "Degraded"
      hs.message = (c.reason or "NotReady") .. ": " .. (c.message or "")
    end
    return hs
  end
end
return hs
