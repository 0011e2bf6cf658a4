CREATE TABLE tblInteraction (
  iInteractionID BIGINT NULL,
  iCompoundID BIGINT NULL,
  dtInteractionGMTStartTime DATETIME2 NULL,
  dtInteractionGMTStopTime DATETIME2 NULL,
  dtInteractionLocalStartTime DATETIME2 NULL,
  biInteractionDuration BIGINT NULL,
  iSwitchID INT NULL,
  tiInteractionTypeID TINYINT NULL,
  tiCallDirectionTypeID TINYINT NULL,
  nvcDialedNumber NVARCHAR(64) NULL,
  iSetNumber INT NULL,
  iTenantID INT NULL,
  tiInteractionStatusID TINYINT NULL,
  nvcSkillName NVARCHAR(128) NULL
);

CREATE TABLE tblParticipant (
  iParticipantID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iUserID INT NULL,
  nvcAgentId NVARCHAR(64) NULL,
  nvcStation NVARCHAR(64) NULL,
  nvcPhoneNumber NVARCHAR(64) NULL,
  tiParticipantTypeID TINYINT NULL,
  bitIsInteractionInitiator BIT NULL
);

CREATE TABLE tblRecording (
  iRecordingID BIGINT NULL,
  iInteractionID BIGINT NULL,
  dtRecordingGMTStartTime DATETIME2 NULL,
  dtRecordingGMTStopTime DATETIME2 NULL,
  tiRecordingRecordedTypeID TINYINT NULL,
  tiVoiceArchiveStatus TINYINT NULL,
  vcArchivePath NVARCHAR(400) NULL,
  siUnitID SMALLINT NULL,
  iAudioPackets BIGINT NULL
);

CREATE TABLE tblInteractionException (
  iExceptionID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iExceptionTypeID INT NULL,
  iExceptionNumber INT NULL,
  dtExceptionTimeStamp DATETIME2 NULL,
  vcExceptionDetail NVARCHAR(400) NULL
);

CREATE TABLE tblUser (
  iUserID INT NULL,
  nvcFirstName NVARCHAR(100) NULL,
  nvcLastName NVARCHAR(100) NULL,
  vcEmailAddress NVARCHAR(320) NULL,
  nvcLoginName NVARCHAR(100) NULL,
  bitActive BIT NULL,
  iTenantID INT NULL,
  dtCreatedGMT DATETIME2 NULL
);

CREATE TABLE tblAgent (
  iAgentId INT NULL,
  iUserID INT NULL,
  nvcSwitchAgentId NVARCHAR(64) NULL,
  nvcExtension NVARCHAR(32) NULL
);

CREATE TABLE tblBusinessData (
  iInteractionID BIGINT NULL,
  nvcFieldName NVARCHAR(128) NULL,
  nvcFieldValue NVARCHAR(4000) NULL
);

CREATE INDEX ix_tblInteraction ON tblInteraction (dtInteractionGMTStartTime, iInteractionID);

CREATE INDEX ix_tblParticipant ON tblParticipant (iInteractionID, iParticipantID);

CREATE INDEX ix_tblRecording ON tblRecording (iInteractionID, iRecordingID);

CREATE INDEX ix_tblInteractionException ON tblInteractionException (iInteractionID, iExceptionID);

CREATE INDEX ix_tblUser ON tblUser (iUserID);

CREATE INDEX ix_tblAgent ON tblAgent (iUserID);

CREATE INDEX ix_tblBusinessData ON tblBusinessData (iInteractionID);
