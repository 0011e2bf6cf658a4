CREATE TABLE tblInteraction (
  iInteractionID BIGINT NULL,
  iCompoundID BIGINT NULL,
  dtInteractionGMTStartTime TIMESTAMP NULL,
  dtInteractionGMTStopTime TIMESTAMP NULL,
  dtInteractionLocalStartTime TIMESTAMP NULL,
  biInteractionDuration BIGINT NULL,
  iSwitchID INT NULL,
  tiInteractionTypeID UTINYINT NULL,
  tiCallDirectionTypeID UTINYINT NULL,
  nvcDialedNumber VARCHAR NULL,
  iSetNumber INT NULL,
  iTenantID INT NULL,
  tiInteractionStatusID UTINYINT NULL,
  nvcSkillName VARCHAR NULL
);

CREATE TABLE tblParticipant (
  iParticipantID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iUserID INT NULL,
  nvcAgentId VARCHAR NULL,
  nvcStation VARCHAR NULL,
  nvcPhoneNumber VARCHAR NULL,
  tiParticipantTypeID UTINYINT NULL,
  bitIsInteractionInitiator BOOLEAN NULL
);

CREATE TABLE tblRecording (
  iRecordingID BIGINT NULL,
  iInteractionID BIGINT NULL,
  dtRecordingGMTStartTime TIMESTAMP NULL,
  dtRecordingGMTStopTime TIMESTAMP NULL,
  tiRecordingRecordedTypeID UTINYINT NULL,
  tiVoiceArchiveStatus UTINYINT NULL,
  vcArchivePath VARCHAR NULL,
  siUnitID SMALLINT NULL,
  iAudioPackets BIGINT NULL
);

CREATE TABLE tblInteractionException (
  iExceptionID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iExceptionTypeID INT NULL,
  iExceptionNumber INT NULL,
  dtExceptionTimeStamp TIMESTAMP NULL,
  vcExceptionDetail VARCHAR NULL
);

CREATE TABLE tblUser (
  iUserID INT NULL,
  nvcFirstName VARCHAR NULL,
  nvcLastName VARCHAR NULL,
  vcEmailAddress VARCHAR NULL,
  nvcLoginName VARCHAR NULL,
  bitActive BOOLEAN NULL,
  iTenantID INT NULL,
  dtCreatedGMT TIMESTAMP NULL
);

CREATE TABLE tblAgent (
  iAgentId INT NULL,
  iUserID INT NULL,
  nvcSwitchAgentId VARCHAR NULL,
  nvcExtension VARCHAR NULL
);

CREATE TABLE tblBusinessData (
  iInteractionID BIGINT NULL,
  nvcFieldName VARCHAR NULL,
  nvcFieldValue VARCHAR NULL
);

CREATE INDEX ix_tblInteraction ON tblInteraction (dtInteractionGMTStartTime, iInteractionID);

CREATE INDEX ix_tblParticipant ON tblParticipant (iInteractionID, iParticipantID);

CREATE INDEX ix_tblRecording ON tblRecording (iInteractionID, iRecordingID);

CREATE INDEX ix_tblInteractionException ON tblInteractionException (iInteractionID, iExceptionID);

CREATE INDEX ix_tblUser ON tblUser (iUserID);

CREATE INDEX ix_tblAgent ON tblAgent (iUserID);

CREATE INDEX ix_tblBusinessData ON tblBusinessData (iInteractionID);
