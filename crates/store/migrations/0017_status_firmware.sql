-- The firmware a device's last request named (an MPP phone's User-Agent: `Cisco-CP-8861-3PCC/11.3.1
-- (…)` gives `11.3.1`), so that the status page counts phones by model and firmware in one
-- statement. What a phone reports over syslog (device_resync.firmware) still wins over it.
ALTER TABLE device_status ADD COLUMN last_firmware TEXT NOT NULL DEFAULT '';
