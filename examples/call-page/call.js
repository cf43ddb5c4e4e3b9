// Demo call page. Query parameters:
//   layout=grid|spotlight|single_participant, participants=N (default 4), and Stream's layout options
//   (grid.columns, grid.position, video.background_color, participant.label_display, …);
//   readyDelayMs=N (signal START_RECORDING after N ms; default 300), noReady=1 (never signal),
//   leaveAfter=S (everyone leaves after S seconds), endAfter=S (END_RECORDING after S seconds),
//   muteAfter=S (every voice goes silent after S seconds), freezeAfter=S (the picture, clock included,
//   stops changing after S seconds: a call whose media stopped while everyone stayed),
//   pattern=flash (white flash + beep every second, for A/V sync), pattern=counter (a new image every frame),
//   media=webrtc (each participant's picture and voice travel through a real WebRTC connection, VP8 and
//   Opus over loopback, and the tile shows the decoded <video>, as a call page shows remote people; the
//   page signals START_RECORDING once every connection shows a picture),
//   media=remote (the same, but the participants send from elsewhere and this page only receives and
//   decodes them, as a recorder in a real call does: each participant n leaves a complete offer in the
//   server's /signal/<call id>/offer-n mailbox and takes the page's answer from answer-n; the tests'
//   and benchmarks' participants are test/harness/remote-participants.ts).
(() => {
  'use strict';
  const q = new URLSearchParams(location.search);
  const num = (k, d) => (q.has(k) && !Number.isNaN(Number(q.get(k))) ? Number(q.get(k)) : d);
  const layout = q.get('layout') || 'grid';
  const pattern = q.get('pattern') || '';
  const webrtc = q.get('media') === 'webrtc';
  const receiver = q.get('media') === 'remote';
  const callId = location.pathname.split('/').pop();
  if (webrtc || receiver) document.body.classList.add('webrtc');
  let participants = Math.max(0, Math.min(16, num('participants', 4)));
  const colors = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c'];
  const names = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances'];
  const root = document.documentElement;
  document.body.classList.add(`layout-${layout}`);
  if (q.get('video.background_color')) root.style.setProperty('--bg', q.get('video.background_color'));
  if (q.get('participant.label_text_color')) root.style.setProperty('--label-color', q.get('participant.label_text_color'));
  if (q.get('participant.label_background_color')) root.style.setProperty('--label-bg', q.get('participant.label_background_color'));
  if (q.get('participant.video_highlight_border_color')) root.style.setProperty('--highlight', q.get('participant.video_highlight_border_color'));
  if (q.get('participant.label_display') === 'false') document.body.classList.add('no-labels');
  if (q.has('grid.cell_padding')) root.style.setProperty('--gap', `${num('grid.cell_padding', 10)}px`);
  const defaultColumns = layout === 'spotlight' ? Math.max(1, participants - 1) : Math.ceil(Math.sqrt(participants));
  root.style.setProperty('--columns', String(num('grid.columns', defaultColumns)));
  if (q.get('grid.position') === 'top') document.body.classList.add('bar-top');

  const stage = document.getElementById('stage');
  const tiles = [];
  for (let i = 0; i < participants; i++) {
    const tile = document.createElement('div');
    tile.className = 'tile';
    const canvas = document.createElement('canvas');
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = names[i % names.length];
    tile.append(canvas, label);
    stage.append(tile);
    // Opaque, like the camera picture a tile stands in for: a transparent canvas makes Chromium's
    // compositor blend every pixel of every tile each frame, a cost no <video> tile has (measured at
    // 1080p30 with four tiles: the GPU process 0.54 core with a transparent canvas, 0.27 opaque).
    const ctx = canvas.getContext('2d', { alpha: false });
    tiles.push({ tile, canvas, label, ctx, color: colors[i % colors.length], phase: i * 1.3 });
  }

  // One synthetic voice per participant: a distinct pitch, "speaking" in turns.
  let audio;
  function startAudio() {
    audio = new AudioContext();
    const master = audio.createGain();
    master.gain.value = 0.25;
    master.connect(audio.destination);
    // With WebRTC each voice goes into its participant's outgoing stream instead of the speakers.
    if (webrtc) tiles.forEach((t) => { t.voice = audio.createMediaStreamDestination(); });
    if (pattern === 'flash') return;
    tiles.forEach((t, i) => {
      const osc = audio.createOscillator();
      osc.frequency.value = 220 + i * 110;
      const gain = audio.createGain();
      gain.gain.value = 0;
      osc.connect(gain).connect(t.voice || master);
      osc.start();
      t.gain = gain;
    });
  }
  // A receiving page plays only what arrives, through its <video> elements.
  if (!receiver) startAudio();
  if (audio && audio.state !== 'running') document.addEventListener('click', () => audio.resume(), { once: true });

  function beep() {
    const osc = audio.createOscillator();
    osc.frequency.value = 1000;
    osc.connect(webrtc ? tiles[0].voice : audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.1);
  }

  const clock = document.getElementById('clock');
  const t0 = performance.now();
  let frame = 0;
  let lastFlashSecond = -1;
  let flashedAt = -Infinity;
  let muted = false;
  const freezeAt = q.has('freezeAfter') ? num('freezeAfter', 0) : Infinity;
  if (q.has('muteAfter')) {
    setTimeout(() => {
      muted = true;
      tiles.forEach((p) => p.gain && p.gain.gain.setTargetAtTime(0, audio.currentTime, 0.01));
    }, num('muteAfter', 0) * 1000);
  }
  function draw(now) {
    const t = (now - t0) / 1000;
    if (t >= freezeAt) return; // no next frame: the picture stays as it is
    clock.textContent = `${String(Math.floor(t / 60)).padStart(2, '0')}:${(t % 60).toFixed(3).padStart(6, '0')}`;
    const speaker = Math.floor(t / 2) % Math.max(1, tiles.length);
    // A receiving page shows decoded video: the sending page draws the pictures.
    if (receiver) tiles.forEach((p, i) => p.tile.classList.toggle('speaking', i === speaker));
    else tiles.forEach((p, i) => {
      const { canvas, ctx } = p;
      const w = canvas.clientWidth, h = canvas.clientHeight;
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      if (pattern === 'flash') {
        // The first frame drawn in each second flashes and beeps, however late it comes (a busy machine
        // can skip the frames just after the boundary), and the flash stays up for 50 ms so that the
        // 30 fps grab sees it; the flash's onset and the beep's start share one animation frame.
        const second = Math.floor(t);
        if (second !== lastFlashSecond && i === 0) { lastFlashSecond = second; flashedAt = t; beep(); }
        ctx.fillStyle = t - flashedAt < 0.05 ? '#ffffff' : '#000000';
        ctx.fillRect(0, 0, w, h);
        return;
      }
      const g = ctx.createLinearGradient(0, 0, w, h);
      g.addColorStop(0, p.color);
      g.addColorStop(1, `hsl(${(t * 40 + i * 60) % 360} 70% 30%)`);
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, w, h);
      const r = Math.min(w, h) / 6;
      ctx.fillStyle = '#ffffffcc';
      ctx.beginPath();
      ctx.arc(w / 2 + Math.cos(t * 2 + p.phase) * (w / 3), h / 2 + Math.sin(t * 3 + p.phase) * (h / 3), r, 0, Math.PI * 2);
      ctx.fill();
      if (pattern === 'counter') {
        ctx.fillStyle = '#000';
        ctx.font = `bold ${Math.floor(h / 4)}px monospace`;
        ctx.fillText(String(frame), 10, h / 2);
      }
      p.tile.classList.toggle('speaking', i === speaker);
      if (p.gain && !muted) p.gain.gain.setTargetAtTime(i === speaker ? 1 : 0.0, audio.currentTime, 0.05);
    });
    frame++;
    requestAnimationFrame(draw);
  }
  requestAnimationFrame(draw);

  // One sending and one receiving peer per participant, connected in this page: the picture is encoded
  // (VP8), sent over loopback, decoded and shown; the voice likewise (Opus).
  async function connectOverWebRtc(p) {
    const send = new RTCPeerConnection();
    const receive = new RTCPeerConnection();
    send.onicecandidate = (e) => e.candidate && receive.addIceCandidate(e.candidate);
    receive.onicecandidate = (e) => e.candidate && send.addIceCandidate(e.candidate);
    addOutgoing(p, send);
    const playing = showIncoming(p, receive);
    await send.setLocalDescription();
    await receive.setRemoteDescription(send.localDescription);
    await receive.setLocalDescription();
    await send.setRemoteDescription(receive.localDescription);
    await playing;
  }
  /** The participant's camera (their canvas) and voice, sent on `connection`. */
  function addOutgoing(p, connection) {
    const outgoing = p.canvas.captureStream(30);
    if (p.voice) outgoing.addTrack(p.voice.stream.getAudioTracks()[0]);
    for (const track of outgoing.getTracks()) connection.addTrack(track, outgoing);
  }
  /** A <video> in the participant's tile plays what `connection` receives; resolves at its first picture. */
  function showIncoming(p, connection) {
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    p.tile.insertBefore(video, p.label);
    connection.ontrack = (e) => { video.srcObject = e.streams[0]; };
    // Not the 'playing' event: with a voice in the stream it came up to a second before the first
    // picture (the tile still black) when the participants were another process.
    return new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()));
  }

  // media=remote: one complete offer and answer per participant through the server's mailboxes (no
  // trickled candidates: on loopback gathering is over at once). The participants offer.
  const mailbox = (name) => `/signal/${encodeURIComponent(callId)}/${name}`;
  const leave = (name, description) => fetch(mailbox(name), { method: 'POST', body: JSON.stringify(description) });
  async function take(name) {
    for (;;) {
      const res = await fetch(mailbox(name));
      if (res.status === 200) return res.json();
      if (res.status !== 204) throw new Error(`${mailbox(name)}: HTTP ${res.status}`);
    }
  }
  async function gathered(connection) {
    while (connection.iceGatheringState !== 'complete') await new Promise((r) => connection.addEventListener('icegatheringstatechange', r, { once: true }));
    return connection.localDescription;
  }
  async function receiveFromCall(p, i) {
    const connection = new RTCPeerConnection();
    const playing = showIncoming(p, connection);
    await connection.setRemoteDescription(await take(`offer-${i}`));
    await connection.setLocalDescription();
    await leave(`answer-${i}`, await gathered(connection));
    await playing;
  }
  const connect = webrtc ? connectOverWebRtc : receiver ? receiveFromCall : undefined;
  const connected = connect ? Promise.all(tiles.map(connect)) : Promise.resolve();

  // The page contract.
  window.recordingState = { ready: false, ended: false, participants };
  const report = () => console.log(`RECORDING_PARTICIPANTS=${participants}`);
  report();
  if (q.get('noReady') !== '1') {
    connected.then(
      () => setTimeout(() => { window.recordingState.ready = true; console.log('START_RECORDING'); }, num('readyDelayMs', 300)),
      (err) => console.error(`WebRTC failed: ${err}`),
    );
  }
  if (q.has('leaveAfter')) {
    setTimeout(() => {
      participants = 0;
      window.recordingState.participants = 0;
      document.body.classList.add('empty');
      tiles.forEach((p) => p.gain && p.gain.gain.setTargetAtTime(0, audio.currentTime, 0.01));
      report();
    }, num('leaveAfter', 0) * 1000);
  }
  if (q.has('endAfter')) {
    setTimeout(() => { window.recordingState.ended = true; console.log('END_RECORDING'); }, num('endAfter', 0) * 1000);
  }
})();
