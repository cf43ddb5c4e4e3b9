-- Argo CD health of a recording.dev Recording (resource.customizations.health.recording.dev_Recording).
-- Follows the Recording's kstatus conditions, as `kubectl wait --for=condition=Ready` and Flux do:
-- Healthy once the file is UPLOADED and verified, Degraded when ERRORED, Suspended while paused, and
-- Progressing before that (like a running Job: the recording is doing what was asked, but not done).
local hs = { status = "Progressing", message = "Waiting for the operator to accept the Recording" }
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "The operator has not yet acted on the latest spec (generation " .. generation .. ")"
  return hs
end
local function condition(kind)
  if obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end
local phase = obj.status.phase
local stalled = condition("Stalled")
if phase == "ERRORED" or (stalled ~= nil and stalled.status == "True") then
  hs.status = "Degraded"
  local err = obj.status.error or {}
  hs.message = (err.code or (stalled and stalled.reason) or "ERRORED") .. ": " .. (err.message or (stalled and stalled.message) or "")
  return hs
end
local ready = condition("Ready")
if phase == "UPLOADED" and (ready == nil or ready.status == "True") then
  hs.status = "Healthy"
  local output = obj.status.output or {}
  hs.message = "Uploaded " .. (output.location or "") .. (output.sizeBytes and (" (" .. output.sizeBytes .. " bytes)") or "")
  return hs
end
if phase == "PAUSED" then
  hs.status = "Suspended"
  hs.message = "Paused by spec.state; the paused span is left out of the file"
  return hs
end
hs.message = "Recording is " .. phase
local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.reason ~= phase and reconciling.message ~= nil then
  -- the operator says why it is not moving on, e.g. CallTypeNotFound
  hs.message = hs.message .. ": " .. reconciling.message
end
if obj.status.recordingDurationSeconds ~= nil then
  hs.message = hs.message .. " (" .. obj.status.recordingDurationSeconds .. " s recorded)"
end
return hs
